//! Local files. Writes reuse `capmetrics::output::write_atomically` (a temporary sibling,
//! synced, then renamed), so a reader never sees half an output and a failed write leaves
//! nothing behind; a FIFO or device node is written into, never replaced, and a symbolic link
//! is followed. The blocking file calls run on tokio's blocking pool.

use std::io;
use std::path::Path;

use bytes::Bytes;

use crate::error::StorageError;
use crate::storage::Entry;

pub(crate) async fn put(path: &Path, data: Bytes) -> Result<(), StorageError> {
    let owned = path.to_path_buf();
    blocking(path, "write", move || {
        capmetrics::output::write_atomically(&owned, &data).map_err(|err| match err {
            capmetrics::Error::Write { cause, .. } => cause,
            other => io::Error::other(other.to_string()),
        })
    })
    .await
}

pub(crate) async fn get(path: &Path) -> Result<Option<Bytes>, StorageError> {
    let owned = path.to_path_buf();
    blocking(path, "read", move || match std::fs::read(&owned) {
        Ok(data) => Ok(Some(Bytes::from(data))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await
}

pub(crate) async fn list(path: &Path) -> Result<Vec<String>, StorageError> {
    let owned = path.to_path_buf();
    blocking(path, "list", move || list_blocking(&owned)).await
}

fn list_blocking(folder: &Path) -> io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry?;
        // Follows symlinks, so a link to a file counts as a file.
        let is_file = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if is_file && !is_temporary(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

pub(crate) async fn list_entries(path: &Path) -> Result<Vec<Entry>, StorageError> {
    let owned = path.to_path_buf();
    blocking(path, "list", move || {
        let mut entries = Vec::new();
        for name in list_blocking(&owned)? {
            // A file removed between the listing and here is simply not listed.
            let Ok(meta) = std::fs::metadata(owned.join(&name)) else {
                continue;
            };
            entries.push(Entry {
                name,
                size: Some(meta.len()),
                modified: meta.modified().ok(),
            });
        }
        Ok(entries)
    })
    .await
}

/// The temporary siblings of writes in progress (`.<name>.<pid>.<n>.tmp`).
fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

async fn blocking<T: Send + 'static>(
    path: &Path,
    action: &'static str,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, StorageError> {
    let cause = match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(cause)) => cause,
        Err(join) => io::Error::other(join.to_string()),
    };
    Err(StorageError::Io {
        action,
        location: path.display().to_string(),
        cause,
    })
}
