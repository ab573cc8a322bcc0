//! A data folder in S3 or behind HTTP(S), as a `capmetrics::DataSource`, and the choice of
//! data source for a worker's `--data` flag.
//!
//! `capmetrics` is synchronous by design (processing is CPU work on blocking threads), while
//! storage is async. [`RemoteDir`] bridges the two with `Handle::block_on`, which is right on a
//! blocking thread and wrong anywhere else: it must be used from `spawn_blocking` (or a plain
//! thread), never from async code, where tokio panics rather than deadlock.

use capmetrics::{DataSource, Error, Input, LocalDir};
use tokio::runtime::Handle;

use crate::error::StorageError;
use crate::inputs::HashingSource;
use crate::location::Location;
use crate::storage::Storage;

/// A CapMetrics data folder (`vehicle_positions/`, `stops/`, `schedule/`) at a remote location.
///
/// Call its methods only from a blocking thread (inside `tokio::task::spawn_blocking`, or a
/// thread outside the runtime): each one blocks on the runtime until the request is done.
#[derive(Debug, Clone)]
pub struct RemoteDir {
    storage: Storage,
    root: Location,
    runtime: Handle,
}

impl RemoteDir {
    /// A data source over the folder `root`, doing its I/O on `runtime`.
    pub fn new(storage: Storage, root: Location, runtime: Handle) -> RemoteDir {
        RemoteDir {
            storage,
            root,
            runtime,
        }
    }

    /// The folder it reads from.
    pub fn root(&self) -> &Location {
        &self.root
    }

    /// Reads `folder/name` as stored (not decompressed): its full URL and its bytes, `Ok(None)`
    /// if it does not exist.
    pub fn read_raw(
        &self,
        folder: &str,
        name: &str,
    ) -> capmetrics::Result<Option<(String, Vec<u8>)>> {
        let location = self.root.join(folder).join(name);
        match self.runtime.block_on(self.storage.get(&location)) {
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => Ok(Some((location.to_string(), Vec::from(bytes)))),
            Err(e) => Err(fetch_error(&location, &e)),
        }
    }
}

/// Failures to fetch are machine failures, not bad input, so they become `Error::Fetch` (which
/// `capmetrics` classifies as "not an input error"), naming the URL.
fn fetch_error(location: &Location, error: &StorageError) -> Error {
    Error::Fetch {
        file: location.to_string(),
        detail: error.cause(),
    }
}

impl DataSource for RemoteDir {
    fn location(&self) -> String {
        self.root.to_string()
    }

    fn list(&self, folder: &str) -> capmetrics::Result<Vec<String>> {
        let location = self.root.join(folder);
        self.runtime
            .block_on(self.storage.list(&location))
            .map_err(|e| fetch_error(&location, &e))
    }

    fn read(&self, folder: &str, name: &str) -> capmetrics::Result<Option<Input>> {
        // Input names errors (bad gzip, bad rows) after the full URL.
        self.read_raw(folder, name)?
            .map(|(url, bytes)| Input::from_bytes(url, bytes))
            .transpose()
    }
}

/// The data source for a `--data` spec: a local folder (plain path or `file://`, which must
/// exist) or an `s3://` or `http(s)://` folder (a [`RemoteDir`] on `runtime`), recording the
/// content hash of every file it reads ([`HashingSource`]).
pub fn data_source(
    spec: &str,
    storage: &Storage,
    runtime: Handle,
) -> Result<HashingSource, StorageError> {
    match Location::parse(spec)? {
        Location::Path(path) => {
            if !path.is_dir() {
                return Err(StorageError::NoFolder {
                    location: path.display().to_string(),
                });
            }
            Ok(HashingSource::local(LocalDir::new(path)))
        }
        remote => Ok(HashingSource::remote(RemoteDir::new(
            storage.clone(),
            remote,
            runtime,
        ))),
    }
}
