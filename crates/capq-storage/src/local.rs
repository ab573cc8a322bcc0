//! Local files. Writes reuse `capmetrics::output::write_atomically` (a temporary sibling,
//! synced, then renamed), so a reader never sees half an output and a failed write leaves
//! nothing behind; a FIFO or device node is written into, never replaced, and a symbolic link
//! is followed. The blocking file calls run on tokio's blocking pool.

use std::io;
use std::path::Path;

use bytes::Bytes;

use crate::error::StorageError;
use crate::storage::{Entry, Stat};

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

/// The first half of [`put`]: the bytes in a temporary sibling, neither synced nor in place
/// (`None` for a FIFO or device, written into at once).
pub(crate) async fn put_staged(
    path: &Path,
    data: Bytes,
) -> Result<Option<capmetrics::output::StagedFile>, StorageError> {
    let owned = path.to_path_buf();
    blocking(path, "write", move || {
        capmetrics::output::write_staged(&owned, &data).map_err(|err| match err {
            capmetrics::Error::Write { cause, .. } => cause,
            other => io::Error::other(other.to_string()),
        })
    })
    .await
}

/// The stamp a staged file will have once committed (a rename keeps it).
pub(crate) fn staged_stat(staged: &capmetrics::output::StagedFile) -> Result<Stat, StorageError> {
    staged
        .metadata()
        .map(|meta| stat_of(&meta))
        .map_err(|cause| StorageError::Io {
            action: "inspect",
            location: staged.target().display().to_string(),
            cause,
        })
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

/// What identifies a local file's content without reading it: device, inode, length and
/// modification time (nanoseconds). A hard link shares all four with its target; a rewrite
/// (a new inode, or a new modification time) changes the stamp.
fn stat_of(meta: &std::fs::Metadata) -> Stat {
    use std::os::unix::fs::MetadataExt;
    Stat {
        size: meta.len(),
        stamp: format!(
            "file:{}:{}:{}:{}.{:09}",
            meta.dev(),
            meta.ino(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec()
        ),
    }
}

pub(crate) async fn stat(path: &Path) -> Result<Option<Stat>, StorageError> {
    let owned = path.to_path_buf();
    blocking(path, "inspect", move || match std::fs::metadata(&owned) {
        Ok(meta) => Ok(Some(stat_of(&meta))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await
}

pub(crate) async fn list_stats(
    path: &Path,
) -> Result<(Vec<(String, Stat)>, Vec<String>), StorageError> {
    let owned = path.to_path_buf();
    blocking(path, "list", move || {
        let entries = match std::fs::read_dir(&owned) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
            Err(e) => return Err(e),
        };
        let (mut files, mut folders) = (Vec::new(), Vec::new());
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // Follows symlinks; an entry removed since the listing is simply not listed.
            let Ok(meta) = std::fs::metadata(entry.path()) else {
                continue;
            };
            if meta.is_dir() {
                folders.push(name);
            } else if meta.is_file() && !is_temporary(&name) {
                files.push((name, stat_of(&meta)));
            }
        }
        files.sort_by(|a: &(String, Stat), b| a.0.cmp(&b.0));
        folders.sort();
        Ok((files, folders))
    })
    .await
}

/// Makes `to` hold the content of `from`: by a hard link when `to` is a regular file or
/// absent (a temporary link renamed over `to`, so readers see the old file or the new one),
/// else (a FIFO, a device, a link to one) by writing the bytes as [`put`] does. A file system
/// that cannot link (another device, no hard links) gets a copy.
pub(crate) async fn copy(from: &Path, to: &Path) -> Result<(), StorageError> {
    let (source, target) = (from.to_path_buf(), to.to_path_buf());
    blocking(to, "write", move || {
        let replaceable = match std::fs::symlink_metadata(&target) {
            Ok(meta) => meta.file_type().is_file(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => true,
            Err(e) => return Err(e),
        };
        if replaceable {
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let temp = link_temp(&target);
            // A link to a symbolic link would be a second symbolic link: link what it names.
            let source = if std::fs::symlink_metadata(&source)?.file_type().is_symlink() {
                std::fs::canonicalize(&source)?
            } else {
                source.clone()
            };
            if std::fs::hard_link(&source, &temp).is_ok() {
                let renamed = std::fs::rename(&temp, &target);
                if renamed.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                return renamed;
            }
        }
        let bytes = std::fs::read(&source)?;
        capmetrics::output::write_atomically(&target, &bytes).map_err(|err| match err {
            capmetrics::Error::Write { cause, .. } => cause,
            other => io::Error::other(other.to_string()),
        })
    })
    .await
}

/// A temporary name beside `path`, in the form listings skip (`.<name>.<pid>.<n>.tmp`).
fn link_temp(path: &Path) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.link{n}.tmp", std::process::id()))
}

pub(crate) async fn delete(path: &Path) -> Result<(), StorageError> {
    let owned = path.to_path_buf();
    blocking(path, "delete", move || match std::fs::remove_file(&owned) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
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
