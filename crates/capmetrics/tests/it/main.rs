//! Integration tests of the day processor, driven by real data copied into `testdata/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod fingerprint;
mod garbage;
mod params;
mod reference;
mod unseen;

use std::path::PathBuf;

use capmetrics::{Catalog, Date, Input, LocalDir};

/// `testdata/capmetrics` in the repository.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/capmetrics")
}

/// Processes `day` from `data_dir` and checks the output is equivalent to `expected` (plain or
/// gzipped CSV). Returns the number of output rows.
pub fn check(data_dir: PathBuf, day: &str, expected: PathBuf) -> usize {
    let catalog = Catalog::new(LocalDir::new(data_dir));
    let day: Date = day.parse().unwrap();
    let output = catalog
        .process(day)
        .unwrap_or_else(|e| panic!("{day}: {e}"));
    assert!(
        output.diagnostics.is_balanced(),
        "{day}: {:?}",
        output.diagnostics
    );
    let expected = Input::read(&expected).unwrap();
    match capmetrics::equivalence::compare(expected.bytes(), &output.csv) {
        Ok(rows) => {
            assert_eq!(rows as u64, output.diagnostics.rows_out);
            rows
        }
        Err(mismatch) => panic!("{day} differs from {}:\n{mismatch}", expected.name()),
    }
}
