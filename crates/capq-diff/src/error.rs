//! The crate's error type. Every variant names the file it is about (the side's folder and the
//! file name) and, for CSV data, the line and the column, because a person has to go and look.

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A processed-day CSV lacks a column the diff needs.
    #[error("{file}, line 1: missing column `{column}` (the header has: {header})")]
    MissingColumn {
        file: String,
        column: &'static str,
        header: String,
    },

    /// A processed-day CSV has no header line.
    #[error("{file}: the file is empty; expected a header line")]
    NoHeader { file: String },

    /// A header that names a column twice, so its rows cannot be compared by column.
    #[error("{file}, line 1: column `{column}` appears twice")]
    RepeatedColumn { file: String, column: String },

    /// A record with more or fewer fields than the header.
    #[error("{file}, line {line}: expected {expected} fields as in the header, found {found}")]
    FieldCount {
        file: String,
        line: u64,
        expected: usize,
        found: usize,
    },

    /// A field that does not hold what its column needs.
    #[error("{file}, line {line}, column `{column}`: {problem}: {value:?}")]
    Field {
        file: String,
        line: u64,
        column: &'static str,
        problem: &'static str,
        value: String,
    },

    /// Broken CSV syntax (an unterminated quote, text after a closing quote).
    #[error("{file}, line {line}: malformed CSV: {detail}")]
    Csv {
        file: String,
        line: u64,
        detail: &'static str,
    },

    /// A file that is not UTF-8 text, does not decompress, or is too large to index.
    #[error("{file}: {detail}")]
    Input { file: String, detail: String },

    /// A file could not be fetched.
    #[error("cannot read {file}: {detail}")]
    Fetch {
        file: String,
        detail: String,
        /// True when the cause is the user's (a bad path, a missing permission), false for
        /// failures of the machine or the network.
        input_error: bool,
    },

    /// A file the side lists was not there when it was read.
    #[error("{file}: listed, but gone when it was read")]
    Vanished { file: String },

    /// A side that lists a day twice.
    #[error("{side}: day {day} is given twice")]
    DuplicateDay { side: String, day: capmetrics::Date },
}

impl Error {
    /// True when the user's data or arguments are at fault, false for failures of the
    /// machine or the network.
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Fetch { input_error, .. } => *input_error,
            _ => true,
        }
    }
}
