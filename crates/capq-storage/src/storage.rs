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
