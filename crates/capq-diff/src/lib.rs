//! What moved between two sets of processed CapMetrics days (docs/diff.md): which days are
//! identical, changed, added, removed, newly failing or fixed; which rows, joined on
//! `(day, trip_id, stop_id)`, were added, removed or changed under `capmetrics::equivalence`
//! (docs/capmetrics-spec.md), and in which columns; how on-time performance moved (system and
//! per route, with Wilson intervals and medians, by capq-aggregate's definitions), with the
//! class transitions that explain it; and where the moved rows are (route, hour, day, stop,
//! drop reason).
//!
//! The flow: each side is a [`Side`] (its days, each day's CSV and what is known about it
//! without reading it: a content hash, a partial, a failure, drop counts, provenance), made
//! from a folder listing ([`Side::from_listing`]) or from a run manifest (capq-core's
//! `runs::side::run_side`); [`diff`] reads what it must through one [`Fetch`] per side, on
//! several threads, and returns a [`Diff`], which [`render`] shows for a terminal or a pull
//! request and which serializes as the JSON view. The crate does no I/O of its own.

/// Comparing one day: identity by hash or bytes, then the row join.
mod day;
/// Pairing the sides' days, the threads, and assembling the report.
pub mod engine;
/// The one error type of the crate.
pub mod error;
/// The terminal and Markdown views of a diff.
pub mod render;
/// The diff as data (the JSON view).
pub mod report;
/// A side: its days, their files, provenance and drop counts.
pub mod side;
/// Reading a processed-day CSV into records and field spans.
mod table;
/// Counters that add up across days and threads.
pub mod tally;

pub use engine::{DiffOptions, diff};
pub use error::Error;
pub use report::Diff;
pub use side::{DayStatus, OutputFile, Provenance, Side, SideDay};
pub use tally::Class;

/// Reads a file of a side by the name the side gives: `Ok(None)` when it is not there. Called
/// from several threads at once.
pub type Fetch<'a> = dyn Fn(&str) -> Result<Option<Vec<u8>>, Error> + Sync + 'a;
