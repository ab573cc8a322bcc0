//! Where a day's files come from: a folder laid out as `vehicle_positions/`, `stops/` and
//! `schedule/`, on local disk or (implemented by the queue crates) in an object store.
//!
//! The processor only needs to list a folder and read a file, so that is the whole trait. This
//! crate implements it for local folders; it never does network I/O itself.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::input::Input;

/// A data folder with the CapMetrics layout.
pub trait DataSource: Send + Sync {
    /// Where the data is, for messages (`data/sample`, `s3://bucket/prefix`).
    fn location(&self) -> String;

    /// The file names directly inside `folder` (`stops`, `schedule`, `vehicle_positions`).
    /// A missing folder lists as empty.
    fn list(&self, folder: &str) -> Result<Vec<String>>;

    /// Reads `folder/name`, decompressing gzip; `Ok(None)` if it does not exist.
    fn read(&self, folder: &str, name: &str) -> Result<Option<Input>>;
}

impl<T: DataSource + ?Sized> DataSource for Box<T> {
    fn location(&self) -> String {
        (**self).location()
    }

    fn list(&self, folder: &str) -> Result<Vec<String>> {
        (**self).list(folder)
    }

    fn read(&self, folder: &str, name: &str) -> Result<Option<Input>> {
        (**self).read(folder, name)
    }
}

/// A data folder on local disk.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl DataSource for LocalDir {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, folder: &str) -> Result<Vec<String>> {
        let path = self.root.join(folder);
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(cause) => {
                return Err(Error::Read {
                    file: path.display().to_string(),
                    cause,
                });
            }
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|cause| Error::Read {
                file: path.display().to_string(),
                cause,
            })?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn read(&self, folder: &str, name: &str) -> Result<Option<Input>> {
        let path = self.root.join(folder).join(name);
        match Input::read(&path) {
            Err(Error::Read { cause, .. }) if cause.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            other => other.map(Some),
        }
    }
}
