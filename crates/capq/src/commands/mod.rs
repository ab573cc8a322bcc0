//! One module per subcommand. Each parses nothing itself: it takes its clap arguments,
//! configures, and calls into the library crates.

pub mod bench;
pub mod compare;
pub mod process;
pub mod run;

use std::path::PathBuf;

use anyhow::bail;
use capmetrics::Date;

use crate::exit::UserError;

/// The data folder to use: the one given, else the bundled sample (found relative to the
/// working directory first, then to the source tree the binary was built from).
pub fn data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        if !dir.is_dir() {
            bail!(UserError(format!(
                "data folder {} does not exist",
                dir.display()
            )));
        }
        return Ok(dir);
    }
    let candidates = [
        PathBuf::from("data/sample"),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample")),
    ];
    candidates
        .into_iter()
        .find(|dir| dir.is_dir())
        .ok_or_else(|| {
            UserError("no --data given and the bundled sample (data/sample) is not here".into())
                .into()
        })
}

pub fn parse_day(text: &str) -> anyhow::Result<Date> {
    text.parse::<Date>()
        .map_err(|e| UserError(format!("--day: {e}")).into())
}

/// Adds the day to an error's message unless the message already names it.
pub fn with_day(day: Date, error: capmetrics::Error) -> anyhow::Error {
    let day = day.to_string();
    if error.to_string().contains(&day) {
        error.into()
    } else {
        anyhow::Error::new(error).context(day)
    }
}
