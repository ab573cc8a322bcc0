//! The one error type of the crate. Every variant names the file and, where there is one, the
//! line and column, because a person has to go and fix the data.

use std::io;

use crate::date::Date;

/// Something that stops a day from being processed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file}: corrupt or truncated gzip data ({detail})")]
    Gzip { file: String, detail: String },
    #[error("{file}: the file is empty; expected a header line")]
    NoHeader { file: String },
    #[error("{file}, line 1: missing column `{column}` (the header has: {header})")]
    MissingColumn {
        file: String,
        column: &'static str,
        header: String,
    },
    #[error("{file}, line {line}: expected {expected} fields as in the header, found {found}")]
    FieldCount {
        file: String,
        line: u64,
        expected: usize,
        found: usize,
    },
    #[error("{file}, line {line}, column `{column}`: invalid UTF-8")]
    Utf8 {
        file: String,
        line: u64,
        column: String,
    },
    #[error("{file}, line {line}, column `{column}`: {problem}: {value:?}")]
    Field {
        file: String,
        line: u64,
        column: &'static str,
        problem: String,
        value: String,
    },
    #[error("{file}, line {line}: malformed CSV: {detail}")]
    Csv {
        file: String,
        line: u64,
        detail: String,
    },
    #[error("day {day}: no {kind} file covers this day in {dir}")]
    NoMetadata {
        day: Date,
        kind: &'static str,
        dir: String,
    },
    #[error("day {day}: no vehicle positions file ({dir}/vehicle_positions/{day}.csv or .csv.gz)")]
    NoPositions { day: Date, dir: String },
    #[error("cancelled")]
    Cancelled,
    #[error("cannot fetch {file}: {detail}")]
    Fetch { file: String, detail: String },
    #[error("cannot write {file}: {source}")]
    Write {
        file: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// True when the cause is the input data or a missing file, which the user must fix (CLI
    /// exit code 1); false for failures of the machine itself, such as a full disk (exit 2).
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Write { .. } | Error::Fetch { .. } | Error::Cancelled => false,
            Error::Read { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::NotFound
                    | io::ErrorKind::InvalidData
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::PermissionDenied
            ),
            _ => true,
        }
    }

    /// True when the day simply has no positions file (reported as "missing", not failed).
    pub fn is_missing_day(&self) -> bool {
        matches!(self, Error::NoPositions { .. })
    }
}

/// Shortens a field value for an error message, so one huge garbage field does not flood logs.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    const MAX: usize = 60;
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= MAX {
        return text.into_owned();
    }
    let mut short: String = text.chars().take(MAX).collect();
    short.push('…');
    short
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A cancellation flag that long work checks now and then: set it from another thread (a
/// timeout, a stop request) and the work returns [`Error::Cancelled`] within milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Cancel<'a> {
    flag: Option<&'a std::sync::atomic::AtomicBool>,
}

impl<'a> Cancel<'a> {
    /// Work that cannot be cancelled.
    pub const NEVER: Cancel<'static> = Cancel { flag: None };

    pub fn new(flag: &'a std::sync::atomic::AtomicBool) -> Cancel<'a> {
        Cancel { flag: Some(flag) }
    }

    /// `Err(Error::Cancelled)` once the flag is set.
    pub fn check(self) -> Result<()> {
        match self.flag {
            Some(flag) if flag.load(std::sync::atomic::Ordering::Relaxed) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }
}
