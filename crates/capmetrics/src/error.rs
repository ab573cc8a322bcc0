//! The one error type of the crate. Every variant names the file and, where there is one, the
//! line and column, because a person has to go and fix the data.
//!
//! Messages quote input text only as a short excerpt (see [`excerpt`]): a day's file can be a
//! gigabyte on one line, and its error ends up in a job's `exc_string`, the worker's log and a
//! terminal. Each message is complete on its own: a wrapped I/O error is part of the text and
//! not also exposed as `source()`, so printers that walk the chain (anyhow's `{:#}`) say the
//! cause once.

use std::io;

use crate::date::Date;

/// Something that stops a day from being processed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {file}: {cause}")]
    Read { file: String, cause: io::Error },
    #[error("{file}: corrupt or truncated gzip data ({detail})")]
    Gzip { file: String, detail: String },
    #[error("{file}: gzip data that decompresses to more than {limit} bytes")]
    TooLarge { file: String, limit: u64 },
    #[error("{file}: the file is empty; expected a header line")]
    NoHeader { file: String },
    /// `header` is the header line, already quoted by [`excerpt_of`].
    #[error("{file}, line 1: missing column `{column}` (the header is {header})")]
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
    /// `value` is the cell, already quoted by [`excerpt`].
    #[error("{file}, line {line}, column `{column}`: {problem}: {value}")]
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
    #[error("cannot write {file}: {cause}")]
    Write { file: String, cause: io::Error },
}

impl Error {
    /// True when the cause is the input data or a missing file, which the user must fix (CLI
    /// exit code 1); false for failures of the machine itself, such as a full disk (exit 2).
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Write { .. } | Error::Fetch { .. } | Error::Cancelled => false,
            Error::Read { cause, .. } => matches!(
                cause.kind(),
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

/// The most characters of input text an error message quotes.
pub const EXCERPT_CHARS: usize = 80;

/// Quotes input text for an error message: at most [`EXCERPT_CHARS`] characters, in double
/// quotes with control characters escaped; longer text is cut, marked with `…` and followed by
/// its full length, as in `"2016-11-25T23:34…" (1073741824 bytes)`. Only the quoted prefix is
/// read, so the cost does not grow with the input.
pub fn excerpt(bytes: &[u8]) -> String {
    excerpt_of(bytes, EXCERPT_CHARS)
}

/// [`excerpt`] with a different length limit (a header line is worth quoting in full when it is
/// of ordinary length).
pub fn excerpt_of(bytes: &[u8], max_chars: usize) -> String {
    let mut short = String::new();
    let mut chars = 0;
    let mut consumed = 0;
    'chunks: for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if chars == max_chars {
                break 'chunks;
            }
            short.push(c);
            chars += 1;
            consumed += c.len_utf8();
        }
        if !chunk.invalid().is_empty() {
            if chars == max_chars {
                break;
            }
            short.push(char::REPLACEMENT_CHARACTER);
            chars += 1;
            consumed += chunk.invalid().len();
        }
    }
    if consumed >= bytes.len() {
        return format!("{short:?}");
    }
    short.push('…');
    format!("{short:?} ({} bytes)", bytes.len())
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
