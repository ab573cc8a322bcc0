//! The crate's one error type. Every message names the location (path or URL) it is about,
//! because the person reading a failed job's error has to know which file to look at, and
//! [`StorageError::is_transient`] tells the worker whether a retry could help.
//!
//! Each message is complete: a wrapped I/O error is part of the text and not also exposed as
//! `source()`, so chain printers (anyhow's `{:#}`) say the cause once. Text that came from a
//! job or a command line is quoted as a short excerpt.

use std::io;

/// A storage operation that failed, or a location that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The text is not a usable location (empty, `s3://` without a bucket, a bad URL).
    #[error("invalid location {}: {reason}", capmetrics::excerpt(text.as_bytes()))]
    InvalidLocation { text: String, reason: String },

    /// A `scheme://` this crate does not speak.
    #[error(
        "unsupported location {}: the `{}://` scheme is not supported \
         (use s3://, http://, https://, file:// or a plain path)",
        capmetrics::excerpt(text.as_bytes()),
        short_scheme(scheme)
    )]
    UnsupportedScheme { text: String, scheme: String },

    /// An attempt to write to an HTTP(S) folder.
    #[error("cannot write to http(s) locations ({location})")]
    ReadOnly { location: String },

    /// A data folder given on the command line that is not there.
    #[error("data folder {location} does not exist or is not a folder")]
    NoFolder { location: String },

    /// The S3 settings (`AWS_*` variables) cannot be turned into a client, or the HTTP client
    /// cannot be built.
    #[error("invalid storage configuration for {location}: {detail}")]
    Config { location: String, detail: String },

    /// The bucket of an `s3://` location does not exist.
    #[error("bucket {bucket} does not exist ({location})")]
    NoSuchBucket { bucket: String, location: String },

    /// A local file operation failed.
    #[error("cannot {action} {location}: {cause}")]
    Io {
        action: &'static str,
        location: String,
        cause: io::Error,
    },

    /// A job's output falls under none of the prefixes the worker allows.
    #[error(
        "output {location} is not allowed{}: this worker writes only under {allowed} \
         (its --allow-output / CAPQ_ALLOW_OUTPUT)",
        why.as_ref().map(|why| format!(" ({why})")).unwrap_or_default()
    )]
    OutputNotAllowed {
        location: String,
        why: Option<String>,
        allowed: String,
    },

    /// An S3 or HTTP request failed. `transient` is decided where the failure was seen, from
    /// the status code or transport error.
    #[error("cannot {action} {location}: {detail}")]
    Remote {
        action: &'static str,
        location: String,
        detail: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        transient: bool,
    },
}

/// A scheme as a message shows it: scheme characters are ASCII letters, digits and `+-.`, so
/// only the length needs bounding.
fn short_scheme(scheme: &str) -> String {
    const MAX: usize = 20;
    match scheme.get(..MAX) {
        Some(start) if scheme.len() > MAX => format!("{start}…"),
        _ => scheme.to_owned(),
    }
}

impl StorageError {
    /// True when trying again later could succeed: network errors, timeouts, server errors
    /// (5xx), throttling (429, S3's `SlowDown`). False for what a retry cannot fix: bad or
    /// unsupported locations, missing buckets, denied access (401/403), other 4xx.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Remote { transient, .. } => *transient,
            StorageError::Io { cause, .. } => matches!(
                cause.kind(),
                io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::ConnectionRefused
            ),
            StorageError::InvalidLocation { .. }
            | StorageError::UnsupportedScheme { .. }
            | StorageError::ReadOnly { .. }
            | StorageError::NoFolder { .. }
            | StorageError::Config { .. }
            | StorageError::NoSuchBucket { .. }
            | StorageError::OutputNotAllowed { .. } => false,
        }
    }

    /// The HTTP status the server answered with, if the error came from one.
    pub fn status(&self) -> Option<u16> {
        match self {
            StorageError::Remote { status, .. } => *status,
            _ => None,
        }
    }

    /// The message without the "cannot <action> <location>: " lead, for wrappers (such as
    /// `capmetrics::Error::Fetch`) that name the location themselves.
    pub fn cause(&self) -> String {
        match self {
            StorageError::Io { cause, .. } => cause.to_string(),
            StorageError::Remote { detail, .. } => detail.clone(),
            StorageError::NoSuchBucket { bucket, .. } => format!("bucket {bucket} does not exist"),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(status: Option<u16>, transient: bool) -> StorageError {
        StorageError::Remote {
            action: "read",
            location: "s3://b/k".into(),
            detail: "HTTP 503".into(),
            status,
            transient,
        }
    }

    #[test]
    fn messages_name_the_location_and_classify() {
        let err = remote(Some(503), true);
        assert_eq!(err.to_string(), "cannot read s3://b/k: HTTP 503");
        assert!(err.is_transient());
        assert_eq!(err.status(), Some(503));
        assert_eq!(err.cause(), "HTTP 503");
        assert!(!remote(Some(403), false).is_transient());
        let read_only = StorageError::ReadOnly {
            location: "https://h/x".into(),
        };
        assert_eq!(
            read_only.to_string(),
            "cannot write to http(s) locations (https://h/x)"
        );
        assert!(!read_only.is_transient());
        let timed_out = StorageError::Io {
            action: "write",
            location: "out/x.csv".into(),
            cause: io::Error::from(io::ErrorKind::TimedOut),
        };
        assert!(timed_out.is_transient());
        let denied = StorageError::Io {
            action: "write",
            location: "out/x.csv".into(),
            cause: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(!denied.is_transient());
        assert!(
            denied.to_string().starts_with("cannot write out/x.csv: "),
            "{denied}"
        );
    }
}
