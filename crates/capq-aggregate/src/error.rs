//! The crate's error type. Every variant names what it is about (a file and, for CSV data, the
//! line and column), because a person has to go and fix the data or the command line.

/// Why an aggregate could not be built or rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An aggregate file given to the report renderer is malformed.
    #[error("{file}: line {line}: {message}")]
    Report {
        file: &'static str,
        line: usize,
        message: String,
    },

    /// A processed-day CSV lacks a column the statistics need.
    #[error("{file}, line 1: missing column `{column}` (the header has: {header})")]
    MissingColumn {
        file: String,
        column: &'static str,
        header: String,
    },

    /// A processed-day CSV has no header line.
    #[error("{file}: the file is empty; expected a header line")]
    NoHeader { file: String },

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

    /// Compressed input that does not decompress.
    #[error("{file}: {detail}")]
    Input { file: String, detail: String },

    /// A partial file that cannot be used: damaged, truncated, or of another format version.
    /// Callers fall back to the day's CSV.
    #[error("{file}: unusable partial: {detail}")]
    Partial { file: String, detail: String },

    /// A `--window` or `--profile` value that does not make sense.
    #[error("{0}")]
    Window(String),

    /// A percentile that is not a decimal number in 0..=100.
    #[error("invalid percentile {0:?}: expected a decimal number from 0 to 100")]
    Quantile(String),

    /// A file of the input folder could not be fetched.
    #[error("cannot read {file}: {detail}")]
    Fetch {
        file: String,
        detail: String,
        /// True when the cause is the user's (a missing file, a bad path), false for I/O
        /// failures of the machine or the network.
        input_error: bool,
    },

    /// The same day given twice (say, as `.csv` and as `.csv.gz`).
    #[error("day {0} is given twice")]
    DuplicateDay(capmetrics::Date),
}

impl Error {
    /// True when the user's data or arguments are at fault (exit code 1 in the CLI), false for
    /// failures of the machine, the network or this program (exit code 2).
    pub fn is_input_error(&self) -> bool {
        match self {
            Error::Fetch { input_error, .. } => *input_error,
            Error::Report { .. } => false,
            _ => true,
        }
    }
}
