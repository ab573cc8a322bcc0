//! Locations: where a file or folder is, as given on a command line or in a job.
//!
//! One text form covers every backend (`s3://bucket/key`, `http(s)://…`, `file:///abs/path`
//! or a plain path), so jobs and flags carry plain strings and only this module decides what
//! they mean. A location can be a file or a folder; [`Location::join`] treats it as a folder.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::StorageError;

/// A file or folder on local disk, in S3, or behind an HTTP(S) URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A local path, relative or absolute, as given (`file://` URLs become absolute paths).
    Path(PathBuf),
    /// An S3 object or prefix. `key` is empty for the bucket's root, and may end with `/`.
    S3 { bucket: String, key: String },
    /// An HTTP(S) URL.
    Http(url::Url),
}

impl Location {
    /// Parses `s3://bucket/key`, `file:///abs/path`, `http(s)://…` or a plain path.
    pub fn parse(text: &str) -> Result<Location, StorageError> {
        let invalid = |reason: &str| StorageError::InvalidLocation {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(invalid("the location is empty"));
        }
        let Some(scheme) = scheme(text) else {
            return Ok(Location::Path(PathBuf::from(text)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => {
                let rest = &text[scheme.len() + 3..];
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(invalid("no bucket name after s3://"));
                }
                if !bucket
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
                {
                    return Err(invalid(
                        "a bucket name has only letters, digits, '-', '.' and '_'",
                    ));
                }
                let segments: Vec<&str> = key.strip_suffix('/').unwrap_or(key).split('/').collect();
                if !key.is_empty()
                    && segments
                        .iter()
                        .any(|s| s.is_empty() || *s == "." || *s == "..")
                {
                    return Err(invalid("the key has an empty, '.' or '..' part"));
                }
                Ok(Location::S3 {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
            }
            "http" | "https" => {
                let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("the URL has no host"));
                }
                Ok(Location::Http(url))
            }
            "file" => {
                let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
                if url
                    .host_str()
                    .is_some_and(|h| !h.is_empty() && h != "localhost")
                {
                    return Err(invalid(
                        "file:// URLs must name a local path (file:///abs/path)",
                    ));
                }
                let path = url
                    .to_file_path()
                    .map_err(|()| invalid("not a local path (use file:///abs/path)"))?;
                Ok(Location::Path(path))
            }
            _ => Err(StorageError::UnsupportedScheme {
                text: text.to_owned(),
                scheme: scheme.to_owned(),
            }),
        }
    }

    /// The location of `name` inside this one, which is taken to be a folder whether or not
    /// it ends with `/`. `name` may hold several `/`-separated parts (`stops/a.csv`).
    pub fn join(&self, name: &str) -> Location {
        let parts = name.split('/').filter(|part| !part.is_empty());
        match self {
            Location::Path(path) => {
                let mut path = path.clone();
                path.extend(parts);
                Location::Path(path)
            }
            Location::S3 { bucket, key } => {
                let mut key = key.clone();
                for part in parts {
                    if !key.is_empty() && !key.ends_with('/') {
                        key.push('/');
                    }
                    key.push_str(part);
                }
                Location::S3 {
                    bucket: bucket.clone(),
                    key,
                }
            }
            Location::Http(url) => {
                let mut url = url.clone();
                if let Ok(mut segments) = url.path_segments_mut() {
                    let mut parts = parts.peekable();
                    if parts.peek().is_some() {
                        segments.pop_if_empty();
                    }
                    // `push` percent-encodes, so names with spaces or `#` stay one segment.
                    segments.extend(parts);
                }
                Location::Http(url)
            }
        }
    }

    /// True for S3 and HTTP(S) locations.
    pub fn is_remote(&self) -> bool {
        !matches!(self, Location::Path(_))
    }
}

impl FromStr for Location {
    type Err = StorageError;

    fn from_str(text: &str) -> Result<Location, StorageError> {
        Location::parse(text)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Path(path) => write!(f, "{}", path.display()),
            Location::S3 { bucket, key } if key.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::Http(url) => f.write_str(url.as_str()),
        }
    }
}

/// The `scheme` of `scheme://…`, if the text starts with one (RFC 3986 scheme characters).
fn scheme(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (first_ok && rest_ok).then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Location {
        Location::parse(text).unwrap()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse("s3://bucket/key/prefix"),
            Location::S3 {
                bucket: "bucket".into(),
                key: "key/prefix".into()
            }
        );
        assert_eq!(
            parse("s3://bucket"),
            Location::S3 {
                bucket: "bucket".into(),
                key: "".into()
            }
        );
        assert_eq!(
            parse("S3://b/k/"),
            Location::S3 {
                bucket: "b".into(),
                key: "k/".into()
            }
        );
        assert_eq!(
            parse("file:///abs/path"),
            Location::Path("/abs/path".into())
        );
        assert_eq!(
            parse("file:///with%20space"),
            Location::Path("/with space".into())
        );
        assert_eq!(parse("out/days"), Location::Path("out/days".into()));
        assert_eq!(parse("/abs/days/"), Location::Path("/abs/days/".into()));
        assert_eq!(parse("data:weird"), Location::Path("data:weird".into()));
        match parse("https://example.com/data/") {
            Location::Http(url) => assert_eq!(url.as_str(), "https://example.com/data/"),
            other => panic!("{other:?}"),
        }
        assert!(parse("http://127.0.0.1:8000/x").is_remote());
        assert!(parse("s3://b/x").is_remote());
        assert!(!parse("x").is_remote());
    }

    #[test]
    fn rejects_bad_locations_with_clear_messages() {
        for (text, needle) in [
            ("", "empty"),
            ("s3://", "no bucket"),
            ("s3:///key", "no bucket"),
            ("s3://bad bucket/key", "bucket name"),
            ("s3://b/a//c", "empty"),
            ("s3://b/../c", "'..'"),
            ("http://", "invalid location"),
            ("file://otherhost/x", "local path"),
        ] {
            let err = Location::parse(text).unwrap_err();
            assert!(
                matches!(err, StorageError::InvalidLocation { .. }),
                "{text}: {err:?}"
            );
            let message = err.to_string();
            assert!(message.contains(needle), "{text}: {message}");
            assert!(
                message.contains(&format!("{text:?}")),
                "names the text: {message}"
            );
            assert!(!err.is_transient());
        }
        let err = Location::parse("gs://bucket/x").unwrap_err();
        assert!(matches!(err, StorageError::UnsupportedScheme { .. }));
        let message = err.to_string();
        for needle in [
            "gs://",
            "s3://",
            "http://",
            "https://",
            "file://",
            "gs://bucket/x",
        ] {
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn joins_as_folders() {
        let joined = |base: &str, name: &str| parse(base).join(name).to_string();
        assert_eq!(joined("s3://b/p/", "x.csv"), "s3://b/p/x.csv");
        assert_eq!(joined("s3://b/p", "x.csv"), "s3://b/p/x.csv");
        assert_eq!(joined("s3://b", "x.csv"), "s3://b/x.csv");
        assert_eq!(joined("s3://b/", "stops/x.csv"), "s3://b/stops/x.csv");
        assert_eq!(joined("out", "x.csv"), "out/x.csv");
        assert_eq!(joined("out/", "a/x.csv"), "out/a/x.csv");
        assert_eq!(joined("file:///tmp/o", "x.csv"), "/tmp/o/x.csv");
        assert_eq!(joined("https://h/data", "stops"), "https://h/data/stops");
        assert_eq!(
            joined("https://h/data/", "stops/x.csv"),
            "https://h/data/stops/x.csv"
        );
        assert_eq!(joined("https://h", "x.csv"), "https://h/x.csv");
        assert_eq!(
            joined("https://h/d/", "a b#1.csv"),
            "https://h/d/a%20b%231.csv"
        );
        assert_eq!(joined("s3://b/p", ""), "s3://b/p");
    }

    #[test]
    fn displays_canonical_text_that_parses_back() {
        for text in [
            "s3://bucket/key/prefix",
            "s3://bucket",
            "https://h/data/",
            "rel/path",
            "/abs",
        ] {
            let location = parse(text);
            assert_eq!(location.to_string(), text);
            assert_eq!(parse(&location.to_string()), location);
        }
        assert_eq!(parse("file:///abs/x").to_string(), "/abs/x");
        assert_eq!("s3://b/k".parse::<Location>().unwrap(), parse("s3://b/k"));
    }
}
