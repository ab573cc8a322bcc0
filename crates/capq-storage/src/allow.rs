//! Which outputs a worker may write: an allow-list of location prefixes.
//!
//! A job names its own output, and whoever can enqueue a job is not trusted with every file the
//! worker's user can write. So a worker's configuration lists the prefixes that outputs must fall
//! under (`capq worker --allow-output`), by default every `s3://` location and no local path.
//!
//! Matching is on whole components of normalized locations, never on text: `/data/out` allows
//! `/data/out/x.csv` but not `/data/out-evil/x.csv`, and `s3://b/out` allows `s3://b/out/x` but
//! not `s3://b/outx`. A local path is made absolute (against the working folder), refused if it
//! has a `..` part, and has its symbolic links resolved in the part that exists, so neither
//! `..` nor a link inside an allowed folder leads out of it. The prefixes are resolved the same
//! way once, when the list is made.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::error::StorageError;
use crate::location::Location;

/// The prefixes a worker's outputs must fall under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputAllowList {
    prefixes: Vec<Prefix>,
    /// The prefixes as configured, for messages.
    shown: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Prefix {
    /// `s3://`: every bucket.
    AnyS3,
    /// A bucket, and key parts under it (none: the whole bucket).
    S3 { bucket: String, parts: Vec<String> },
    /// An absolute local folder (or file), with links resolved.
    Path(PathBuf),
}

impl OutputAllowList {
    /// The default: every S3 location, no local path.
    pub fn s3_only() -> OutputAllowList {
        OutputAllowList {
            prefixes: vec![Prefix::AnyS3],
            shown: vec!["s3://".to_owned()],
        }
    }

    /// Parses prefixes as given to `--allow-output`: `s3://` (every bucket), `s3://bucket[/key]`,
    /// or a local folder (a plain path or `file:///…`). An empty list allows nothing.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<OutputAllowList, StorageError> {
        let mut list = OutputAllowList {
            prefixes: Vec::new(),
            shown: Vec::new(),
        };
        for text in texts {
            let text = text.as_ref().trim();
            let invalid = |reason: &str| StorageError::InvalidLocation {
                text: text.to_owned(),
                reason: reason.to_owned(),
            };
            let prefix = if text.eq_ignore_ascii_case("s3://") {
                Prefix::AnyS3
            } else {
                match Location::parse(text)? {
                    Location::S3 { bucket, key } => Prefix::S3 {
                        bucket,
                        parts: key_parts(&key),
                    },
                    Location::Path(path) => {
                        Prefix::Path(resolve_local(&path).map_err(|reason| invalid(&reason))?)
                    }
                    Location::Http(_) => {
                        return Err(invalid(
                            "http(s) locations are read-only and cannot hold outputs",
                        ));
                    }
                }
            };
            list.prefixes.push(prefix);
            list.shown.push(text.to_owned());
        }
        Ok(list)
    }

    /// `Ok` when `location` falls under one of the prefixes; otherwise an error naming the
    /// location and the prefixes.
    pub fn check(&self, location: &Location) -> Result<(), StorageError> {
        let refused = |why: Option<String>| StorageError::OutputNotAllowed {
            location: location.to_string(),
            why,
            allowed: self.to_string(),
        };
        let allowed = match location {
            Location::S3 { bucket, key } => {
                let parts = key_parts(key);
                self.prefixes.iter().any(|prefix| match prefix {
                    Prefix::AnyS3 => true,
                    Prefix::S3 {
                        bucket: allowed,
                        parts: under,
                    } => allowed == bucket && parts.starts_with(under),
                    Prefix::Path(_) => false,
                })
            }
            Location::Path(path) => {
                let resolved = resolve_local(path).map_err(|why| refused(Some(why)))?;
                self.prefixes.iter().any(|prefix| match prefix {
                    Prefix::Path(folder) => resolved.starts_with(folder),
                    Prefix::AnyS3 | Prefix::S3 { .. } => false,
                })
            }
            Location::Http(_) => false,
        };
        if allowed { Ok(()) } else { Err(refused(None)) }
    }
}

impl fmt::Display for OutputAllowList {
    /// The prefixes, comma-separated, or "nothing" for an empty list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.shown.is_empty() {
            return f.write_str("nothing");
        }
        f.write_str(&self.shown.join(", "))
    }
}

/// The `/`-separated parts of an S3 key, without the empty one a trailing `/` leaves.
fn key_parts(key: &str) -> Vec<String> {
    key.split('/')
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An absolute form of `path` with no `.` or `..` parts and the symbolic links of its existing
/// part resolved; the part that does not exist yet is appended as written. A `..` part is
/// refused rather than interpreted: after a link, `..` means the link target's parent, and a
/// lexical reading of it would disagree with the kernel's.
fn resolve_local(path: &Path) -> Result<PathBuf, String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot resolve a relative path: {e}"))?
            .join(path)
    };
    let mut plain = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => return Err("the path has a '..' part".to_owned()),
            Component::CurDir => {}
            other => plain.push(other),
        }
    }
    // The longest existing ancestor, links resolved, then the rest as written.
    let mut existing = plain.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut resolved = real;
            resolved.extend(rest.iter().rev());
            return Ok(resolved);
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return Ok(plain),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(text: &str) -> Location {
        Location::parse(text).unwrap()
    }

    #[test]
    fn s3_prefixes_match_whole_key_parts() {
        let list = OutputAllowList::parse(&["s3://b/out", "s3://whole"]).unwrap();
        for ok in [
            "s3://b/out/x.csv",
            "s3://b/out/",
            "s3://b/out",
            "s3://whole/any/key",
        ] {
            assert!(list.check(&location(ok)).is_ok(), "{ok}");
        }
        for refused in ["s3://b/outx/y.csv", "s3://b/x.csv", "s3://other/out/x.csv"] {
            let err = list.check(&location(refused)).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(refused) && message.contains("s3://b/out, s3://whole"),
                "{message}"
            );
            assert!(!err.is_transient());
        }
        let any = OutputAllowList::s3_only();
        assert!(any.check(&location("s3://anything/at/all")).is_ok());
        assert!(any.check(&location("/tmp/x.csv")).is_err());
        assert!(any.check(&location("https://h/x.csv")).is_err());
        assert_eq!(any.to_string(), "s3://");
    }

    #[test]
    fn local_prefixes_match_normalized_components() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("data/out")).unwrap();
        std::fs::create_dir_all(root.join("data-evil")).unwrap();
        let allowed = root.join("data");
        let list = OutputAllowList::parse(&[allowed.to_str().unwrap()]).unwrap();
        let check = |path: PathBuf| list.check(&Location::Path(path));
        assert!(check(root.join("data/out/x.csv")).is_ok());
        assert!(check(root.join("data/new/folder/x.csv")).is_ok());
        assert!(check(root.join("data/./out/x.csv")).is_ok());
        assert!(check(root.join("data-evil/x.csv")).is_err());
        assert!(check(root.join("x.csv")).is_err());
        let escape = check(root.join("data/../data-evil/x.csv")).unwrap_err();
        assert!(escape.to_string().contains("'..'"), "{escape}");
        // A link inside the allowed folder that leads out of it is judged by its target.
        std::os::unix::fs::symlink(root.join("data-evil"), root.join("data/link")).unwrap();
        assert!(check(root.join("data/link/x.csv")).is_err());
        std::os::unix::fs::symlink(root.join("data-evil/f.csv"), root.join("data/f.csv")).unwrap();
        std::fs::write(root.join("data-evil/f.csv"), b"x").unwrap();
        assert!(check(root.join("data/f.csv")).is_err());
        // file:// prefixes and outputs mean the same paths.
        let url = format!("file://{}", allowed.display());
        let list = OutputAllowList::parse(&[url.as_str()]).unwrap();
        let output = format!("file://{}/out/x.csv", allowed.display());
        assert!(list.check(&location(&output)).is_ok());
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for (text, needle) in [
            ("https://h/out", "read-only"),
            ("/a/../b", "'..'"),
            ("gs://b", "gs://"),
            ("", "empty"),
        ] {
            let message = OutputAllowList::parse(&[text]).unwrap_err().to_string();
            assert!(message.contains(needle), "{text}: {message}");
        }
        let nothing = OutputAllowList::parse::<&str>(&[]).unwrap();
        assert_eq!(nothing.to_string(), "nothing");
        assert!(nothing.check(&location("s3://b/k")).is_err());
    }
}
