//! The crate's error type.

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
}
