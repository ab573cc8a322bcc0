//! `capq compare`: the equivalence rule used to check outputs against the old program's.

use capmetrics::Input;
use capmetrics::equivalence::compare;

use crate::cli::CompareArgs;
use crate::exit;

pub fn run(args: CompareArgs) -> anyhow::Result<u8> {
    let expected = Input::read(&args.expected)?;
    let actual = Input::read(&args.actual)?;
    match compare(expected.bytes(), actual.bytes()) {
        Ok(rows) => {
            println!("equivalent: {}", crate::text::count(rows as u64, "row"));
            Ok(exit::SUCCESS)
        }
        Err(mismatch) => {
            println!("{mismatch}");
            Ok(exit::INPUT)
        }
    }
}
