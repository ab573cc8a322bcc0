//! The `Storage` handle: put, get and list on any [`Location`].
//!
//! One handle per process, cloned into every task: it holds the S3 settings, the S3 clients
//! made so far (one per bucket, on first use) and one HTTP client, all behind an `Arc`, so a
//! clone is a reference count and connections are pooled across jobs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::allow::OutputAllowList;
use crate::error::StorageError;
use crate::location::Location;
use crate::s3::S3;
use crate::{http, local};

/// A file of a folder listing, with what the listing says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// Length in bytes (unknown for HTTP folders).
    pub size: Option<u64>,
    /// Last modification (unknown for HTTP folders).
    pub modified: Option<std::time::SystemTime>,
}

/// A file's length and *stamp*: a text that changes whenever its content may have changed,
/// read without reading the file (a local file's device, inode, length and modification time;
/// an S3 object's ETag and length). Two locations with equal stamps hold the same bytes (a
/// hard link, a server-side copy); different stamps say nothing either way. Run manifests keep
/// stamps so that checking a year of outputs needs one listing, not a year of reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    pub stamp: String,
}

/// A write made by [`Storage::put_staged`], not necessarily durable or in place yet.
#[derive(Debug)]
pub enum Staged {
    /// Stored already: an S3 PUT is durable and visible at once, and a FIFO or device was
    /// written into.
    Stored,
    /// A local file's complete bytes in a temporary sibling; [`Staged::commit`] syncs them and
    /// renames them into place.
    File(capmetrics::output::StagedFile),
}

impl Staged {
    /// Makes the write durable and puts it in place. Returns the local folder the rename
    /// happened in, which must be synced ([`Storage::sync_folder`]) before the rename counts
    /// as durable.
    pub fn commit(self) -> Result<Option<std::path::PathBuf>, StorageError> {
        let Staged::File(file) = self else {
            return Ok(None);
        };
        let target = file.target().to_path_buf();
        file.commit().map_err(|cause| StorageError::Io {
            action: "write",
            location: target.display().to_string(),
            cause,
        })?;
        Ok(Some(match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        }))
    }

    /// A staged local file's length and stamp as they will be once committed; `None` when
    /// stored already (ask [`Storage::stat`]).
    pub fn stat(&self) -> Result<Option<Stat>, StorageError> {
        match self {
            Staged::Stored => Ok(None),
            Staged::File(file) => local::staged_stat(file).map(Some),
        }
    }
}

/// Reads and writes locations on local disk, S3 and HTTP(S) (read-only).
#[derive(Debug, Clone)]
pub struct Storage {
    inner: Arc<Inner>,
    /// Where [`put`](Storage::put) may write; `None` for anywhere (the CLI's own commands).
    outputs: Option<Arc<OutputAllowList>>,
}

#[derive(Debug)]
struct Inner {
    s3: S3,
    http: reqwest::Client,
}

impl Storage {
    /// A handle configured from the process environment (see [`Storage::from_env_vars`]).
    pub fn from_env() -> Result<Storage, StorageError> {
        // vars_os: std::env::vars() panics on a variable that is not Unicode.
        let vars = std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        });
        Storage::from_env_vars(vars)
    }

    /// A handle configured from `(name, value)` pairs laid out like the environment, so tests
    /// (which share one process environment across threads) can pass their own.
    ///
    /// S3 settings come from the standard variables: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` or `AWS_DEFAULT_REGION`
    /// (default us-east-1), and the endpoint from `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or
    /// `AWS_ENDPOINT`. With an endpoint, requests are path-style (what S3-compatible servers
    /// expect) and an `http://` endpoint is allowed without `AWS_ALLOW_HTTP`. Other variables
    /// `object_store` understands (web identity, container credentials, …) work too. Without
    /// credentials, S3 requests use the instance's role, as the AWS tools do.
    pub fn from_env_vars<K, V>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Storage, StorageError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let s3 = S3::from_vars(vars)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| StorageError::Config {
                location: "http(s) locations".to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Storage {
            inner: Arc::new(Inner { s3, http }),
            outputs: None,
        })
    }

    /// The same handle, refusing to write anywhere outside `allowed` (a worker's
    /// `--allow-output`, since jobs name their own outputs).
    pub fn with_allowed_outputs(mut self, allowed: OutputAllowList) -> Storage {
        self.outputs = Some(Arc::new(allowed));
        self
    }

    /// `Ok` when [`put`](Storage::put) may write to `location`; otherwise an error naming the
    /// allowed prefixes. Tasks call it before doing any work; `put` checks again.
    pub fn check_output(&self, location: &Location) -> Result<(), StorageError> {
        match &self.outputs {
            // For a local path this resolves links: a few quick system calls, no data I/O.
            Some(allowed) => allowed.check(location),
            None => Ok(()),
        }
    }

    /// Stores `data` at `location`, replacing what was there.
    ///
    /// Local files are written atomically: to a temporary file in the same folder, then
    /// renamed, creating missing folders first; on error the temporary file is removed. S3
    /// objects are one PUT, which S3 makes visible all at once. HTTP(S) locations are
    /// read-only. With [`with_allowed_outputs`](Storage::with_allowed_outputs), a location
    /// outside the allowed prefixes is refused before anything is written.
    pub async fn put(
        &self,
        location: &Location,
        data: impl Into<Bytes>,
    ) -> Result<(), StorageError> {
        self.check_output(location)?;
        let data = data.into();
        match location {
            Location::Path(path) => local::put(path, data).await,
            Location::S3 { bucket, key } => self.inner.s3.put(bucket, key, data).await,
            Location::Http(url) => Err(StorageError::ReadOnly {
                location: url.to_string(),
            }),
        }
    }

    /// Like [`put`](Storage::put), in two steps for writers of many files: a local file's
    /// bytes go to a temporary sibling now, and are synced and renamed into place only by
    /// [`Staged::commit`], which can run later on another thread. Until then `location` keeps
    /// its old content (or stays absent); dropping the [`Staged`] uncommitted removes the
    /// temporary file. Other locations are stored at once, as by `put`.
    pub async fn put_staged(
        &self,
        location: &Location,
        data: impl Into<Bytes>,
    ) -> Result<Staged, StorageError> {
        self.check_output(location)?;
        let data = data.into();
        match location {
            Location::Path(path) => Ok(match local::put_staged(path, data).await? {
                Some(file) => Staged::File(file),
                None => Staged::Stored,
            }),
            Location::S3 { bucket, key } => {
                self.inner.s3.put(bucket, key, data).await?;
                Ok(Staged::Stored)
            }
            Location::Http(url) => Err(StorageError::ReadOnly {
                location: url.to_string(),
            }),
        }
    }

    /// Syncs a local folder, so the renames and links made in it (by [`Staged::commit`],
    /// [`copy`](Storage::copy)) survive a crash.
    pub fn sync_folder(folder: &std::path::Path) -> Result<(), StorageError> {
        capmetrics::output::sync_folder(folder).map_err(|cause| StorageError::Io {
            action: "sync",
            location: folder.display().to_string(),
            cause,
        })
    }

    /// Reads the file at `location`; `Ok(None)` when it does not exist (a missing S3 bucket is
    /// an error, not "missing").
    pub async fn get(&self, location: &Location) -> Result<Option<Bytes>, StorageError> {
        match location {
            Location::Path(path) => local::get(path).await,
            Location::S3 { bucket, key } => self.inner.s3.get(bucket, key).await,
            Location::Http(url) => http::get(&self.inner.http, url).await,
        }
    }

    /// The names of the files directly inside `folder` (not sub-folders, not recursive),
    /// sorted. A missing folder lists as empty. Over HTTP, the folder's URL (with a trailing
    /// slash) must serve a JSON array of names or an HTML directory index.
    pub async fn list(&self, folder: &Location) -> Result<Vec<String>, StorageError> {
        match folder {
            Location::Path(path) => local::list(path).await,
            Location::S3 { bucket, key } => self.inner.s3.list(bucket, key).await,
            Location::Http(url) => http::list(&self.inner.http, url).await,
        }
    }

    /// The length and stamp of the file at `location` (see [`Stat`]); `None` when it does not
    /// exist. HTTP(S) locations have no stamps.
    pub async fn stat(&self, location: &Location) -> Result<Option<Stat>, StorageError> {
        match location {
            Location::Path(path) => local::stat(path).await,
            Location::S3 { bucket, key } => self.inner.s3.stat(bucket, key).await,
            Location::Http(url) => Err(no_stamps(url)),
        }
    }

    /// The files directly inside `folder` with their stamps, and its sub-folders' names, both
    /// sorted. A missing folder lists as empty. One request on S3.
    pub async fn list_stats(
        &self,
        folder: &Location,
    ) -> Result<(Vec<(String, Stat)>, Vec<String>), StorageError> {
        match folder {
            Location::Path(path) => local::list_stats(path).await,
            Location::S3 { bucket, key } => self.inner.s3.list_stats(bucket, key).await,
            Location::Http(url) => Err(no_stamps(url)),
        }
    }

    /// Makes `to` hold the bytes of `from` without passing them through this process where the
    /// backend can: a hard link on local disk (atomically replacing `to`, which then shares
    /// `from`'s stamp), a server-side copy within an S3 bucket. Anything else is a read and a
    /// [`put`](Storage::put). `to` must be an allowed output, as for `put`.
    pub async fn copy(&self, from: &Location, to: &Location) -> Result<(), StorageError> {
        self.check_output(to)?;
        match (from, to) {
            (Location::Path(from), Location::Path(to)) => local::copy(from, to).await,
            (
                Location::S3 { bucket, key: from },
                Location::S3 {
                    bucket: to_bucket,
                    key: to,
                },
            ) if bucket == to_bucket => self.inner.s3.copy(bucket, from, to).await,
            _ => match self.get(from).await? {
                Some(bytes) => self.put(to, bytes).await,
                None => Err(StorageError::Io {
                    action: "copy",
                    location: from.to_string(),
                    cause: std::io::ErrorKind::NotFound.into(),
                }),
            },
        }
    }

    /// Deletes the file at `location`; a missing file is no error. `location` must be an
    /// allowed output.
    pub async fn delete(&self, location: &Location) -> Result<(), StorageError> {
        self.check_output(location)?;
        match location {
            Location::Path(path) => local::delete(path).await,
            Location::S3 { bucket, key } => self.inner.s3.delete(bucket, key).await,
            Location::Http(url) => Err(StorageError::ReadOnly {
                location: url.to_string(),
            }),
        }
    }

    /// Like [`Storage::list`], with each file's size and modification time where the backend
    /// tells them in its listing (local folders and S3 do; HTTP folders do not). One request
    /// per folder on S3, never one per file.
    pub async fn list_entries(&self, folder: &Location) -> Result<Vec<Entry>, StorageError> {
        match folder {
            Location::Path(path) => local::list_entries(path).await,
            Location::S3 { bucket, key } => self.inner.s3.list_entries(bucket, key).await,
            Location::Http(url) => Ok(http::list(&self.inner.http, url)
                .await?
                .into_iter()
                .map(|name| Entry {
                    name,
                    size: None,
                    modified: None,
                })
                .collect()),
        }
    }
}

fn no_stamps(url: &url::Url) -> StorageError {
    StorageError::Remote {
        action: "inspect",
        location: url.to_string(),
        detail: "http(s) folders tell no file stamps; use a local folder or s3://".to_owned(),
        status: None,
        transient: false,
    }
}
